"""The typed environment readers fail loudly on bad values."""

import pytest

from common import env


@pytest.mark.parametrize(
    ("reader", "value"),
    [
        (env.boolean, "maybe"),
        (env.integer, "ten"),
        (env.size, "lots"),
        (env.number, "x"),
    ],
)
def test_bad_values_raise_a_config_error_naming_the_variable(
    monkeypatch, reader, value
):
    monkeypatch.setenv("REGISTRY_X", value)
    with pytest.raises(env.ConfigError, match="REGISTRY_X"):
        reader("REGISTRY_X", 1) if reader is not env.boolean else reader("REGISTRY_X")


def test_a_choice_takes_one_of_its_values_only(monkeypatch):
    monkeypatch.setenv("REGISTRY_X", " Bubblewrap ")
    assert env.choice("REGISTRY_X", "auto", ("auto", "bubblewrap")) == "bubblewrap"
    monkeypatch.setenv("REGISTRY_X", "chroot")
    with pytest.raises(env.ConfigError, match="REGISTRY_X='chroot' is not one of"):
        env.choice("REGISTRY_X", "auto", ("auto", "bubblewrap"))


def test_sizes_take_units(monkeypatch):
    monkeypatch.setenv("REGISTRY_X", "2GiB")
    assert env.size("REGISTRY_X", 1) == 2 * 1024**3


def test_a_file_variable_supplies_a_secret(monkeypatch, tmp_path):
    secret = tmp_path / "secret"
    secret.write_text("s3cret\n")
    monkeypatch.delenv("REGISTRY_X", raising=False)
    monkeypatch.setenv("REGISTRY_X_FILE", str(secret))
    assert env.string("REGISTRY_X") == "s3cret"


def test_database_urls():
    pg = env.database(
        "postgres://u:p%40ss@db.example:6543/reg?sslmode=require", sqlite_default=None
    )
    assert (pg["HOST"], pg["PORT"], pg["NAME"], pg["PASSWORD"]) == (
        "db.example",
        "6543",
        "reg",
        "p@ss",
    )
    assert pg["OPTIONS"]["sslmode"] == "require"
    assert pg["CONN_HEALTH_CHECKS"] is True
    lite = env.database("sqlite:////var/lib/registry/r.sqlite3", sqlite_default=None)
    assert lite["NAME"] == "/var/lib/registry/r.sqlite3"
    assert lite["OPTIONS"]["transaction_mode"] == "IMMEDIATE"
    with pytest.raises(env.ConfigError):
        env.database("mysql://x/y", sqlite_default=None)
