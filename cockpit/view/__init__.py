"""View data: what each panel shows, built by the runtime once per refresh from the snapshot,
the detector's assessment and the incident. Immutable and comparable: a panel whose view data
did not change is not drawn again, and widgets only render (no ranking, no baselines here in
the widgets)."""
