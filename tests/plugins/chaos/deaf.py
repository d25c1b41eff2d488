"""A plugin that registers and then never reads again (nor writes); it waits to be killed."""

import argparse
import time

from _raw import Conn

parser = argparse.ArgumentParser()
parser.add_argument("--id", required=True)
args = parser.parse_args()

conn = Conn()
conn.register(args.id)
while True:
    time.sleep(3600)
