"""Tasks, child-network training, early rejection and multi-fidelity. Built by a later issue."""
