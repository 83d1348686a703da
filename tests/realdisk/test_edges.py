"""edges.py: waitpid, Popen.poll, os.spawn*, os.exec*, and a duplex Pipe (a socket pair).

Each edge both ways with real processes: ``racy_*`` must fail and ``ordered_*`` must pass
(one pytester subprocess for all, as in test_plugin.py).
"""

from __future__ import annotations

import pytest

from tests.plugins.test_processes import check, run

pytestmark = pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")

EDGES = """
CHILD = (
    "import os, sys; root = sys.argv[1]; tmp = os.path.join(root, 'c');"
    "open(tmp, 'w').write('c'); os.replace(tmp, os.path.join(root, 'target'))"
)

def forked_publish(root, name):
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            publish(root, name)
            code = 0
        finally:
            os._exit(code)
    return pid

def test_ordered_by_waitpid(tmp_path):
    pid = forked_publish(str(tmp_path), "a")
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    publish(str(tmp_path), "b")

def test_racy_without_waitpid(tmp_path):
    pid = forked_publish(str(tmp_path), "a")
    try:
        publish(str(tmp_path), "b")
    finally:
        _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0

def test_ordered_by_os_wait(tmp_path):
    forked_publish(str(tmp_path), "a")
    os.wait()
    publish(str(tmp_path), "b")

def test_ordered_by_poll(tmp_path):
    child = subprocess.Popen([sys.executable, "-c", CHILD, str(tmp_path)])
    while child.poll() is None:
        time.sleep(0.01)
    assert child.returncode == 0
    publish(str(tmp_path), "b")

def test_racy_poll_that_saw_it_running(tmp_path):
    child = subprocess.Popen([sys.executable, "-c", CHILD, str(tmp_path)])
    child.poll()
    try:
        publish(str(tmp_path), "b")
    finally:
        child.wait()

def test_ordered_by_spawn_p_wait(tmp_path):
    assert os.spawnv(os.P_WAIT, sys.executable, [sys.executable, "-c", CHILD, str(tmp_path)]) == 0
    publish(str(tmp_path), "b")

def test_racy_spawn_p_nowait(tmp_path):
    pid = os.spawnv(os.P_NOWAIT, sys.executable, [sys.executable, "-c", CHILD, str(tmp_path)])
    try:
        publish(str(tmp_path), "b")
    finally:
        os.waitpid(pid, 0)

def exec_after_publishing(root):
    publish(root, "a")
    os.execv(sys.executable, [sys.executable, "-c", CHILD, root])

def test_ordered_exec_after_its_own_publish(tmp_path):
    worker = mp.get_context("fork").Process(target=exec_after_publishing, args=(str(tmp_path),))
    worker.start()
    worker.join()
    assert worker.exitcode == 0
    publish(str(tmp_path), "b")

def publish_then_send(root, conn, first):
    if first:
        publish(root, "a")
        conn.send("done")
    else:
        conn.send("done")  # too early: the publish is not ordered before the receive
        publish(root, "a")

def receive_then_publish(root, conn):
    conn.recv()
    publish(root, "a")

@pytest.mark.parametrize("method", ["fork", "spawn"])
def test_ordered_by_a_duplex_pipe(tmp_path, method):
    ctx = mp.get_context(method)
    mine, theirs = ctx.Pipe()
    worker = ctx.Process(target=publish_then_send, args=(str(tmp_path), theirs, True))
    worker.start()
    assert mine.recv() == "done"
    publish(str(tmp_path), "b")
    worker.join()

def test_racy_a_duplex_pipe_sent_too_early(tmp_path):
    ctx = mp.get_context("fork")
    mine, theirs = ctx.Pipe()
    worker = ctx.Process(target=publish_then_send, args=(str(tmp_path), theirs, False))
    worker.start()
    mine.recv()
    try:
        publish(str(tmp_path), "b")
    finally:
        worker.join()
    assert worker.exitcode == 0

def test_ordered_by_a_duplex_pipe_the_other_way(tmp_path):
    ctx = mp.get_context("fork")
    mine, theirs = ctx.Pipe()
    worker = ctx.Process(target=receive_then_publish, args=(str(tmp_path), theirs))
    worker.start()
    publish(str(tmp_path), "b")
    mine.send("go")
    worker.join()
    assert worker.exitcode == 0
"""


def test_process_ends_and_replacements_order_or_race(pytester: pytest.Pytester) -> None:
    found = check(run(pytester, EDGES))
    assert len(found) == 12
