"""Every command the README and the demo's summary print works while the demo serves its folder.

A new user runs ``make demo``, leaves it serving, and copies commands from the README and from the summary the
demo printed into another terminal. Here the same happens with real processes: ``consortia demo --no-serve``
seeds a folder and prints its summary, ``consortia serve`` serves that folder (holding its locks, as ``make demo``
does), and each printed command runs as its own ``consortia`` process against the served folder — with
``.consortia`` replaced by the folder, ``127.0.0.1:8000`` by the server's port and ``<tx_id>`` by the transaction
the summary features. Each must exit 0 without a traceback. The links the summary prints are opened as a browser
would open them: each answers with a page for a person (HTML, or a login form to reach it), never a JSON body.
"""

from __future__ import annotations

import re
import shlex
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from cli_run import consortia as run_consortia

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
NOT_RUN = ("bench", "serve", "demo", "cluster")
"""Commands that start or load something long-running (benchmarks, servers, clusters): not run here."""


@dataclass(frozen=True)
class Served:
    """A seeded demo folder served by a ``consortia serve`` process."""

    folder: Path
    url: str
    summary: str
    sample_tx: str


def consortia(*args: str, cwd: Path, timeout: float = 180) -> subprocess.CompletedProcess[str]:
    """Run ``consortia`` as a separate process, as a user would from a shell (wide, plain text)."""
    return run_consortia(*args, cwd=cwd, timeout=timeout, env={"COLUMNS": "200", "NO_COLOR": "1", "TERM": "dumb"})


def free_port() -> int:
    """A free TCP port on the loopback interface."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    root = tmp_path_factory.mktemp("printed")
    folder = root / "data"
    seeded = consortia("demo", "--no-serve", "--data", str(folder), "-n", "60", cwd=root, timeout=600)
    assert seeded.returncode == 0, seeded.stdout + seeded.stderr
    summary = seeded.stdout
    sample = re.search(r"consortia proof ([0-9a-f]{64})", summary)
    assert sample, summary
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "consortia", "serve", "--data", str(folder), "--port", str(port)],
        cwd=root,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                if httpx.get(f"{url}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if server.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"consortia serve did not start: {server.stderr.read() if server.stderr else ''}")
            time.sleep(0.3)
        yield Served(folder, url, summary, sample.group(1))
    finally:
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()


def readme_commands() -> list[str]:
    """The ``consortia`` commands in the README's shell blocks that act on the demo's folder."""
    commands = []
    in_shell = False
    for line in README.read_text(encoding="utf-8").splitlines():
        if line.startswith("```"):
            in_shell = line.strip() in ("```sh", "```bash", "```console")
            continue
        text = line.split("  #")[0].strip()
        if in_shell and re.match(r"(\.venv/bin/)?consortia ", text) and "--data .consortia" in text:
            commands.append(text)
    return commands


def summary_commands(summary: str) -> list[str]:
    """The ``consortia`` commands the demo's summary prints."""
    return [line.strip() for line in summary.splitlines() if line.strip().startswith("consortia ")]


def as_run(command: str, served: Served) -> list[str]:
    """A printed command's arguments, pointed at the served folder and server."""
    command = command.replace("<tx_id>", served.sample_tx).replace("http://127.0.0.1:8000", served.url)
    words = shlex.split(command)
    words = [str(served.folder) if word == ".consortia" else word for word in words]
    assert Path(words[0]).name == "consortia", command
    return words[1:]


def test_the_readme_prints_the_commands_this_test_runs() -> None:
    commands = readme_commands()
    assert any(" proof <tx_id> " in c for c in commands) and any(" verify " in c for c in commands)
    assert sum("--server" in c for c in commands) >= 4


def test_the_summary_prints_commands_for_every_application(served: Served) -> None:
    commands = summary_commands(served.summary)
    assert any(c.startswith("consortia proof ") for c in commands)
    assert any(c.startswith("consortia coldchain ") for c in commands), served.summary


def _runnable(command: str) -> bool:
    words = shlex.split(command)
    subcommand = [w for w in words[1:] if not w.startswith("-") and not w.startswith("http")]
    return not (subcommand and subcommand[0] in NOT_RUN)


def test_every_printed_command_works_while_the_folder_is_served(served: Served, tmp_path: Path) -> None:
    printed = [c for c in readme_commands() + summary_commands(served.summary) if _runnable(c)]
    assert len(printed) >= 6
    failures = []
    for command in printed:
        result = consortia(*as_run(command, served), cwd=tmp_path)
        output = result.stdout + result.stderr
        if result.returncode != 0 or "Traceback" in output:
            failures.append(f"$ {command}\nexit {result.returncode}\n{output[-1500:]}")
    assert not failures, "\n\n".join(failures)


def test_every_printed_link_opens_a_page_for_a_person(served: Served) -> None:
    links = sorted(set(re.findall(r"http://127\.0\.0\.1:8000(/[^\s)]*)", served.summary)))
    assert len(links) >= 5
    problems = []
    browser_headers = {"accept": "text/html,application/xhtml+xml"}
    with httpx.Client(base_url=served.url, headers=browser_headers, follow_redirects=True) as browser:
        for path in links:
            answer = browser.get(path)
            kind = answer.headers.get("content-type", "")
            readable = kind.startswith(("text/html", "image/svg+xml"))
            if answer.status_code not in (200, 401) or not readable:
                problems.append(f"{path}: {answer.status_code} {kind}")
            elif answer.status_code == 401 and "login" not in answer.text.lower():
                problems.append(f"{path}: 401 without a way to log in")
            elif answer.history and "/login" in str(answer.url) and 'name="password"' not in answer.text:
                problems.append(f"{path}: sent to {answer.url}, which is not a login form")
    assert not problems, problems
