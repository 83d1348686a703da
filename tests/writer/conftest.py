"""Fixtures shared by the writer tests: blobs with known digests, a fake clock, Windows mode."""

from __future__ import annotations

import os
import random
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from pytest_ocirace import writer


@dataclass
class Blob:
    data: bytes
    digest: writer.Digest

    @property
    def text(self) -> str:
        return str(self.digest)


def make_blob(size: int, seed: int = 0, algorithm: str = "sha256") -> Blob:
    data = random.Random(seed).randbytes(size)
    return Blob(data, writer.Digest.of(data, algorithm))


@pytest.fixture
def blob() -> Blob:
    return make_blob(3000, seed=1)


def temps_under(root: Path) -> list[str]:
    """Every file under ``root`` that the writer would recognise as its temp file."""
    return sorted(
        os.path.join(d, n) for d, _, names in os.walk(root) for n in names if writer.is_temp_name(n)
    )


@dataclass
class FakeClock:
    """A monotonic clock that only advances when the code under test sleeps."""

    now: float = 0.0
    sleeps: list[float] = field(default_factory=list)

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        assert seconds >= 0
        self.sleeps.append(seconds)
        self.now += seconds

    def policy(self, budget: float = 2.0) -> writer.RetryPolicy:
        return writer.RetryPolicy(budget=budget, sleep=self.sleep, clock=self.clock)


@pytest.fixture
def fake_clock(monkeypatch: pytest.MonkeyPatch) -> FakeClock:
    def no_real_sleep(seconds: float) -> None:
        raise AssertionError(f"real time.sleep({seconds}) called; the retry must use the policy")

    monkeypatch.setattr("time.sleep", no_real_sleep)
    return FakeClock()


@pytest.fixture
def windows(monkeypatch: pytest.MonkeyPatch) -> None:
    """Run the writer's Windows code paths (no-clobber rename, retries, no directory fsync)."""
    monkeypatch.setattr(writer, "_WINDOWS", True)
