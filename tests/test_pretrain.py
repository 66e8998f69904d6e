"""book.pretrain: the second process that trains the chapters' models while a build draws figures."""

import sys
from typing import ClassVar

import pytest

from book import pretrain


class FakeProcess:
    """Stands for the helper's process: records how it was started and whether it was stopped."""

    started: ClassVar[list[list[str]]] = []

    def __init__(self, command, **options):
        self.started.append(command)
        self.returncode = None

    def poll(self):
        return self.returncode

    def terminate(self):
        self.returncode = -15

    def wait(self):
        return self.returncode


@pytest.fixture
def fake_popen(monkeypatch):
    FakeProcess.started = []
    monkeypatch.setattr(pretrain.subprocess, "Popen", FakeProcess)
    monkeypatch.setattr(pretrain, "_helper", None)
    return FakeProcess


def test_one_helper_runs_at_a_time_and_stops_with_the_build(fake_popen):
    pretrain.start_helper()
    pretrain.start_helper()  # the second figure to draw: the helper is still running
    assert fake_popen.started == [[sys.executable, "-m", "book.pretrain", "--reverse"]]
    helper = pretrain._helper
    pretrain.stop_helper()
    assert helper.returncode == -15
    pretrain.start_helper()  # `mkdocs serve`: a later rebuild that draws a figure starts a new one
    assert len(fake_popen.started) == 2


def test_the_helper_trains_the_chapters_runs_last_first(monkeypatch):
    trained = []
    runs = [lambda name=name: trained.append(name) for name in ("chapter 8", "chapter 9", "chapter 10")]
    monkeypatch.setattr(pretrain, "book_runs", lambda: runs)
    pretrain.main(["--reverse"])
    assert trained == ["chapter 10", "chapter 9", "chapter 8"]
    trained.clear()
    pretrain.main([])
    assert trained == ["chapter 8", "chapter 9", "chapter 10"]
