"""Every error class states its code, exit code and HTTP status once; the faces map through them."""

from __future__ import annotations

import inspect

import pytest

from localpose import errors
from localpose.cli import main

CLASSES = [c for _, c in inspect.getmembers(errors, inspect.isclass) if issubclass(c, errors.LocalposeError)]


def test_every_error_class_has_one_code_exit_code_and_status() -> None:
    assert len(CLASSES) >= 14
    codes = [c.code for c in CLASSES]
    assert len(set(codes)) == len(codes), "each class has its own machine-readable code"
    for cls in CLASSES:
        assert cls.exit_code in (errors.EXIT_FAILED_INPUTS, errors.EXIT_USAGE), cls
        assert 400 <= cls.http_status <= 599, cls
    # the caller's data: failed inputs (1) and 4xx; set-up and options: 2
    assert errors.InvalidImageError.exit_code == 1 and errors.InvalidImageError.http_status == 422
    assert errors.InvalidOptionError.exit_code == 2 and errors.InvalidOptionError.http_status == 422
    assert errors.ModelUnavailableError.exit_code == 2 and errors.ModelUnavailableError.http_status == 503


@pytest.mark.parametrize(
    ("argv", "code"),
    [
        (["image", "{tmp}/missing.jpg"], errors.EXIT_FAILED_INPUTS),
        (["reps", "{tmp}/missing.mp4", "-e", "squat"], errors.EXIT_FAILED_INPUTS),
        (["image", "{tmp}/x.jpg", "--model", "no-such-model"], errors.EXIT_USAGE),
    ],
)
def test_the_cli_exits_with_the_errors_code(tmp_path, capsys, argv, code) -> None:
    (tmp_path / "x.jpg").write_bytes(b"\xff\xd8\xff")
    assert main([a.format(tmp=tmp_path) for a in argv]) == code
    assert capsys.readouterr().err.strip().startswith("localpose: ")
