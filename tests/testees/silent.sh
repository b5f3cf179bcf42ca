#!/bin/sh
# A testee that never says hello: it waits in a child process, which the
# runner must kill with it (the testee runs in a process group of its own).
sleep 60
