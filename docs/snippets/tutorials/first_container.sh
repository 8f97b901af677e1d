# a container from the built-in "host" image; --rm removes it when it exits
pycontainers run --rm host -- sh -c 'hostname; ps'

# no network but lo, a memory limit, a host name of our choosing
pycontainers run --rm --network none --memory 64m --hostname box host -- hostname

# the exit status is the container's; 127 when the command is not found
pycontainers run --rm host -- sh -c 'exit 3' || echo "exited with $?"
