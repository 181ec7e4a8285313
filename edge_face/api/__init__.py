"""HTTP faces of edge_face: app factory (app.py), SenseID routes, ops endpoints, waitress server.

Kept empty so that importing a small module such as edge_face.api.errors does not pull in Flask and the models.
"""
