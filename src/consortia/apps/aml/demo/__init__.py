"""The AML demo: two exchanges, a month of account activity with planted structuring and layering, two cases."""
