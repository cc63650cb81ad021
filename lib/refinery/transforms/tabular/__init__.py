"""Pure transforms for record data: typing, changes, expectations, anonymity, features, fairness, profiles."""
