"""The sections of the PDF report, each a function that draws on a :class:`~.common.Document`.

:mod:`.cover`, :mod:`.summary` (executive summary), :mod:`.deployments` (one section per model deployment, with
:mod:`.fairness` and :mod:`.decisions`), :mod:`.platform` and :mod:`.appendix` (catalogue, waivers, evidence
manifest, how to verify); :mod:`.common` holds what they share. The build order, the contents, the outline
and the page furniture are :mod:`compliance.report.pdf`'s.
"""
