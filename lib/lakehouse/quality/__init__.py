"""Data quality: suites of expectations in Great Expectations' vocabulary, evaluated row by row
as Spark expressions, with actions (warn, quarantine, fail) and GX validation results."""
