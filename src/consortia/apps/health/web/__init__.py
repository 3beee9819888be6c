"""The routes and pages, over the service: :mod:`.routes` (FHIR endpoints, the JSON API, the alert stream and the
pages, mounted by :func:`.routes.install`), :mod:`.views` (what each page shows, from the service's data),
:mod:`.charts` (server-drawn SVG), ``templates/`` and ``static/``.
"""
