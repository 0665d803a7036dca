"""The interactive front ends: ``instructed-rl play`` (the REPL) and ``instructed-rl serve`` (the web page).

- :mod:`.config`: ``PlayConfig`` and the options ``play`` and ``serve`` share.
- :mod:`.judge`: whether typed text can run on the world as it is, and whether it was achieved.
- :mod:`.stage`: a game, a world that persists between instructions, and an actor (from
  ``make_actor``); one instruction at a time, one step at a time (eval's ``take_step``).
- :mod:`.prompt`: what a line typed at the prompt means. :mod:`.repl`: the terminal session.
- :mod:`.web`: the page's server, one tab's session and its static files.
"""
