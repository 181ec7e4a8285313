"""Development tools of edge_face, kept out of the runtime package: the benchmarks, fitters and generators behind
`edge-face bench | calibrate | fit-occlusion | synth-attacks` (edge_face.cli calls edge_face_tools.commands), the
scripts run as `python -m edge_face_tools.<name>` (stages, embedders, native, fuzz, soak, attack, fit_liveness), and
the helpers that tests share with them (hostile requests, a systemd stand-in, synthetic occluders). `make setup`
installs it; the appliance does not."""
