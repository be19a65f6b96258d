"""Security review: a generated admin key never goes to a log."""

from __future__ import annotations

import stat

from service import cli
from service.config import Settings


def test_a_generated_admin_key_goes_to_a_private_file_when_stderr_is_a_log(tmp_path, capsys):
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'var' / 'civic.db'}")
    key = cli.prepare(settings)
    assert key
    cli.show_new_admin_key(key, settings)  # under pytest, stderr is no terminal
    captured = capsys.readouterr()
    assert key not in captured.err and key not in captured.out
    path = tmp_path / "var" / cli.KEY_FILE_NAME
    assert str(path) in captured.err
    assert path.read_text().strip() == key
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
