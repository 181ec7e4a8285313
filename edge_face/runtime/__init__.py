"""How model work is scheduled on this machine's cores (edge_face.runtime.lanes)."""
from edge_face.runtime.lanes import Lanes, Overloaded, RequestTimedOut, fork_join, lanes_from_config, machine_cores, plan

__all__ = ["Lanes", "Overloaded", "RequestTimedOut", "fork_join", "lanes_from_config", "machine_cores", "plan"]
