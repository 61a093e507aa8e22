"""Drills: replay a real incident against the drill world on a compressed clock, let someone
(or a script) respond through the cockpit, and score the response against what really happened.

scenario  the scenario files (TOML): world, schedule, the real incident's timings
schedule  the compressed clock and the faults due on it
child     the world child process that carries out a schedule and records what it did
session   a drill run: the child, a drill cockpit on its world, a scripted responder
report    the figures: time to detect, declare, mitigate, recover, against real and best
inject    "inject fault X now" for free practice
"""
