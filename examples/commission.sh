#!/bin/sh
# Commissioning a pond station with stationctl, step by step (run on the station, as root).
# Each step prints what to do next; any step can be run again.
set -e
CONF=/etc/station-gateway/station.yaml
MODELS=/var/lib/station-gateway/models

# 1. Write the station file (or run `stationctl init --interactive` and answer the questions).
stationctl init --out "$CONF" --county 410421 --town xiaoqi --village zhuwa --id pond-01 --name "竹洼村池塘" \
  --broker mqtt.county.example:8883 --tls-ca /etc/station-gateway/county-ca.pem \
  --water "id=pond-gauge,type=ultrasonic,port=hwgrep://1a86:7523,mount_height_m=3.2,warning_m=1.2,danger_m=1.6" \
  --fire "id=smoke-store,kind=smoke,type=gpio,pin=22,pull=up,active=high" \
  --camera "id=pond-cam,type=rtsp,url=rtsp://192.168.1.64:554/Streaming/Channels/102" \
  --speaker "type=alsa,device=plughw:CARD=Device,DEV=0,amplifier.pin=27,amplifier.active_high=false"
stationctl validate "$CONF"

# 2. Station key and certificate request; the county signs station.csr and sends station.crt back.
stationctl keys create --config "$CONF"
#    stationctl keys cert station.crt --config "$CONF"
#    stationctl keys county county-2026.pem --config "$CONF"

# 3. The person detector, verified by its published hash and tried once; the camera uses it.
stationctl model install https://models.county.example/detect.tflite \
  --sha256 e4b118e5e4531945de2e659742c7c590f7536f8d0ed26d135abcfe83b4779d13 \
  --labels /tmp/labelmap.txt --dest "$MODELS" --config "$CONF" --camera pond-cam

# 4. Datum from the staff gauge (read the painted ruler in the water first), then the danger zone.
stationctl calibrate water pond-gauge --staff-gauge 0.85 --config "$CONF"
stationctl zone pond-cam --config "$CONF" --name deep-water --points "0.05,0.55 0.6,0.45 0.95,0.7 0.9,0.98 0.1,0.98" --png /tmp/zone.png

# 5. Self-test, the service, and the commissioning report for the county's archive.
stationctl check --config "$CONF"
stationctl install-service --config "$CONF" --now
stationctl report --config "$CONF" --out "/root/commissioning-$(date +%Y%m%d)" --technician "Li Wei"
