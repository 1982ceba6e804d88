"""Connector secrets come from the environment or a file named there, and say which is missing."""

from __future__ import annotations

import pytest

from lakehouse.config import secrets


def test_a_secret_is_read_from_its_variable_or_the_file_its_FILE_variable_names(
    tmp_path, monkeypatch
):
    monkeypatch.setenv("T_KAFKA_JAAS", "inline-value")
    file = tmp_path / "pw"
    file.write_text("from-file\n")
    monkeypatch.setenv("T_PG_PASSWORD_FILE", str(file))
    got = secrets.resolve(
        {"sasl.jaas.config": "T_KAFKA_JAAS", "password": "T_PG_PASSWORD"}, "bronze.x"
    )
    assert got == {"sasl.jaas.config": "inline-value", "password": "from-file"}


def test_a_missing_secret_names_the_table_the_option_and_the_variables(monkeypatch):
    monkeypatch.delenv("T_ABSENT", raising=False)
    monkeypatch.delenv("T_ABSENT_FILE", raising=False)
    with pytest.raises(
        secrets.MissingSecret, match=r"bronze.x: password: set T_ABSENT \(or T_ABSENT_FILE"
    ):
        secrets.resolve({"password": "T_ABSENT"}, "bronze.x")
    monkeypatch.setenv("T_ABSENT_FILE", "/nonexistent/pw")
    with pytest.raises(secrets.MissingSecret, match="T_ABSENT_FILE names /nonexistent/pw"):
        secrets.resolve({"password": "T_ABSENT"}, "bronze.x")
