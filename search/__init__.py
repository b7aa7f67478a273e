"""Search controllers (ask/tell) and the search loop. Built by a later issue."""
