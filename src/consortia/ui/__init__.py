"""Page conventions every application follows, provided once by the platform.

People read Consortia's pages on phones in Busan, Gangwon, Shenzhen, Hong Kong, Macau and New York. Three things
go wrong on every such page unless one module owns them:

- :mod:`consortia.ui.i18n` — every string through a translation catalogue, the language picked from ``?lang=``, a
  cookie or the browser, and a checker (:func:`~consortia.ui.i18n.untranslated`) that finds the words a rendered
  page shows in the wrong language, so a test can fail on a forgotten string;
- :mod:`consortia.ui.timefmt` — times in the place's time zone with the zone named, and relative times computed
  from real clocks, never written into a template;
- :mod:`consortia.ui.ticks` — chart axes with round ticks (1, 2 or 5 × 10ⁿ), not ``50 / 88 / 125``.

This package depends on nothing else of the platform: the gateway, the explorer and every application use it.
"""
