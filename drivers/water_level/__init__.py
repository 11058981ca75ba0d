"""Water-level drivers: simulated scenario player; serial ultrasonic and Modbus RTU transmitters."""
