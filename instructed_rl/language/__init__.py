"""The instruction language, with no torch in it: the closed vocabulary (:mod:`.vocabulary`),
corpora of templates and their phrasing (:mod:`.corpus`), text back to structured instructions
(:mod:`.parse`, :mod:`.instructions`), what an instruction can be grounded in
(:mod:`.understanding`) and new wordings mapped onto trained ones (:mod:`.rephrase`)."""
