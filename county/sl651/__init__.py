"""SL 651-2014 (HEX mode) on the county side: a decoder written from the standard, and a small reference centre."""
