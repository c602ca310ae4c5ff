"""The registry: the system of record for enterprises, people, doses, results and the rest."""
