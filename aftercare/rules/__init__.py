"""The pure rules: plain data in, plain data out. No Django, no I/O, no clock.

phases (the shared words), taper (which phase), attention (who needs the therapist),
schedule (when the routine happens), progress (the chart and its words), safety (the
warning signs). Tested by table and by property (hypothesis)."""
