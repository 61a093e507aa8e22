"""The drill world: real servers on 127.0.0.1 that replay an incident for `cockpit demo`.

Entry points: `runner.run_world` (a process that prints `ready <config>`), `world.World` (the
same servers in-process, for tests) and `deployctl` (the world's deploy tool, run with -m).
Nothing is imported here, so `python -m cockpit.world.deployctl` starts quickly.
"""
