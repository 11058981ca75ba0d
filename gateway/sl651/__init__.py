"""SL 651-2014 (水文监测数据通信规约, HEX mode) uplink: water levels to the county's hydrology platform."""
