"""The simulated network: a deterministic discrete-event simulation of hosts, routers
and links, carrying the real WebSocket engine over the TCP model.

- `sim`: the virtual clock and event queue;
- `topology`: hosts, routers, links, the network and its trace;
- `sockets`: a host's TCP stack over `simulator.tcp`;
- `apps`: WebSocket client and server applications over those sockets;
- `scenario`: the step-by-step API lessons and tests drive;
- `scenarios`: the built-in scenarios of `wirelab simulate`.
"""

from simulator.network.apps import ReadPolicy, WebSocketClient, WebSocketServer
from simulator.network.scenario import LinkSpec, Scenario, Step
from simulator.network.scenarios import BUILT_IN, run_built_in
from simulator.network.sim import SimulationError, Simulator
from simulator.network.topology import Host, Link, Network, Router

__all__ = [
    "BUILT_IN",
    "Host",
    "Link",
    "LinkSpec",
    "Network",
    "ReadPolicy",
    "Router",
    "Scenario",
    "SimulationError",
    "Simulator",
    "Step",
    "WebSocketClient",
    "WebSocketServer",
    "run_built_in",
]
