"""Tools around edge_face (benchmarks, attack drills): not part of the service package."""
