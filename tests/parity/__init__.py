"""``make parity``: the same request sequences sent to a reference Alerta 9.1 and to a fresh alertbus, answers
compared after normalisation; every difference not declared in ``deliberate.yaml`` fails the run."""
