"""Gold models that SQL cannot express, as functions from DataFrames to a DataFrame."""
