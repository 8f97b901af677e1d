# run -d prints the new container's id and returns at once
pycontainers run -d --name web --network none host -- sh -c 'while true; do echo tick; sleep 1; done'
pycontainers ps
sleep 2
pycontainers logs --tail 1 web
pycontainers exec web ps
pycontainers inspect web > /dev/null
pycontainers stop -t 1 web
pycontainers rm web
