"""`countyctl update`: a software bundle or a detection model rolled out to the fleet, a canary first.

`bundle_file` reads and checks what is sent, `server` hands that one file to the stations,
`plan` decides (pure, time passed in) who goes first, who next and when to stop, `fleet_list`
finds the stations the county knows, `runner` sends the signed commands through `county.send`
and audits them, `progress` shows it, `cli` is the command line.
"""
