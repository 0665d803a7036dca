"""``instructed-rl serve``: a local web page to type an instruction and watch the agent carry it out.

    instructed-rl serve                                  # the shipped agent; open the URL it prints
    instructed-rl serve --game GoToRoom --seed 3 --port 8080
    instructed-rl serve --agent bot --port 0             # the BabyAI bot; --port 0 picks a free port

The page (see docs/web.md) picks a game, split, corpus and seed, shows the world as minigrid
draws it, and runs typed instructions at an adjustable speed, showing what the agent read, the
plan of a multi-part instruction, the termination head's confidence, the policy's target map
and the verifier's verdict; the episode downloads as a GIF. Each browser tab has its own
episode. The server listens on 127.0.0.1 only, unless ``--host`` says otherwise, and needs no
network: the page's script and style come from the package.
"""

from __future__ import annotations

import socket
import sys
from dataclasses import dataclass

from instructed_rl.config import option
from instructed_rl.errors import UserError
from instructed_rl.interactive.config import DEFAULT_GAME, PlayConfig, WorldOptions

DEFAULT_PORT = 8765


@dataclass
class ServeConfig(WorldOptions):
    # --agent as play's; the world flags say what a new tab starts from
    game: str = option(DEFAULT_GAME, "game a new tab starts on (see 'instructed-rl envs'); the page can switch")
    seed: int = option(0, "seed of a new tab's first world")
    split: str | None = option(None, "split of a new tab's worlds (default: test when the game has it)")
    corpus: str | None = option(None, "corpus of a new tab (default: the game's)")
    host: str = option("127.0.0.1", "address to listen on; 127.0.0.1 (the default) lets only this machine in")
    port: int = option(DEFAULT_PORT, "port to listen on; 0 picks a free one")
    max_steps: int | None = option(None, "step limit per instruction (default: the game's max_steps)")
    greedy: bool | None = option(None, "greedy actions, or --no-greedy: sampled (default: the agent's own mode)")
    anyway: bool = option(False, "run instructions even when they name words nothing defines (\"the unicorn\")")

    def __post_init__(self):
        super().__post_init__()
        if not 0 <= self.port <= 65535:
            raise ValueError(f"--port must be from 0 to 65535, got {self.port}")
        if not self.host.strip():
            raise ValueError("--host is empty. Fix: pass 127.0.0.1 (this machine only) or an address of this machine")
        self.play_config()  # the same checks as play (seed, step limit)

    def play_config(self) -> PlayConfig:
        """What a new tab starts from."""
        return PlayConfig(agent=self.agent, game=self.game, seed=self.seed, split=self.split, corpus=self.corpus,
                          fps=0, max_steps=self.max_steps, greedy=self.greedy, anyway=self.anyway, color="never")


def load_shared(config: ServeConfig):
    """Load the agent once (every tab shares it) and check that a first world can be made."""
    from instructed_rl.language.corpus import shipped_corpora
    from instructed_rl.games.spec import shipped_games
    from instructed_rl.interactive.stage import make_driver
    from instructed_rl.interactive.web.page import PageSession, Shared

    driver = make_driver(config.agent)  # one line for a missing or broken agent
    agent = getattr(driver, "agent", None)
    if agent is not None and agent.config.rephrase:
        agent.rephrase("go to the red ball")  # build the rephraser now, not in the first tab's first step
    base = config.play_config()
    shared = Shared(agent, base, tuple(shipped_games()), tuple(shipped_corpora()))
    page = PageSession(shared)
    try:
        page.world({"game": base.game, "split": base.split or "", "corpus": base.corpus or "", "seed": base.seed})
    except UserError as error:
        raise UserError(f"cannot make a first world: {error}") from None
    finally:
        page.close()
    return shared


def listen(host: str, port: int) -> socket.socket:
    """A listening socket (so the URL is known, and a busy port is a one-line error)."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as error:
        raise UserError(f"--host {host}: not an address of this machine ({error.strerror}). "
                        "Fix: use 127.0.0.1, or an address 'ip addr' lists") from None
    family, kind, proto, _, address = infos[0]
    sock = socket.socket(family, kind, proto)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(address)
    except OSError as error:
        sock.close()
        raise UserError(f"cannot listen on {host}:{port} ({error.strerror}). "
                        "Fix: pick another --port, or --port 0 for a free one") from None
    sock.listen(128)
    return sock


def url_of(sock: socket.socket) -> str:
    host, port = sock.getsockname()[:2]
    if host in ("0.0.0.0", "::"):
        host = "127.0.0.1"
    return f"http://[{host}]:{port}/" if ":" in host else f"http://{host}:{port}/"


def make_server(config: ServeConfig, sock: socket.socket, shared=None):
    """A uvicorn server for ``sock`` (``server.run(sockets=[sock])`` serves until Ctrl-C or ``should_exit``)."""
    import uvicorn

    from instructed_rl.interactive.web.app import create_app, is_loopback

    app = create_app(shared or load_shared(config), loopback_only=is_loopback(sock.getsockname()[0]))
    return uvicorn.Server(uvicorn.Config(app, log_level="warning", ws_max_size=1 << 16, ws_ping_interval=20,
                                         lifespan="on", timeout_graceful_shutdown=2))


def run(config: ServeConfig) -> int:
    shared = load_shared(config)  # before listening: a bad --agent or --game fails fast
    sock = listen(config.host, config.port)
    server = make_server(config, sock, shared)
    print(f"instructed-rl serve: open {url_of(sock)} in a browser (agent {config.agent}; Ctrl-C stops)", flush=True)
    from instructed_rl.interactive.web.app import is_loopback

    if not is_loopback(sock.getsockname()[0]):
        print(f"note: listening on {config.host}: other machines can reach this page", file=sys.stderr)
    server.run(sockets=[sock])
    return 0
