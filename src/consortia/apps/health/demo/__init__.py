"""The Gangwon pilot for ``consortia demo``: the scenario as data (``pilot.json``), and the small player
(:mod:`.player`) that submits it; :mod:`.synthetic` draws the clearly artificial patients and their readings.
"""
