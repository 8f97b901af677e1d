REGISTRY=${REGISTRY:-127.0.0.1:5000}

# pull the image the Python part pushed, and run it
pycontainers pull "$REGISTRY/tutorial/mine:1"
pycontainers images
pycontainers run --rm "$REGISTRY/tutorial/mine:1" cat /version

# change a container, commit the change as a new image, push that
pycontainers run --name changer "$REGISTRY/tutorial/mine:1" sh -c 'echo v2 > /version'
pycontainers commit changer "$REGISTRY/tutorial/mine:2"
pycontainers rm changer
pycontainers push "$REGISTRY/tutorial/mine:2"

# archives: save, remove, load back (also reads `docker save` files and OCI layouts)
pycontainers save -o mine.tar "$REGISTRY/tutorial/mine:2"
pycontainers rmi "$REGISTRY/tutorial/mine:1" "$REGISTRY/tutorial/mine:2"
pycontainers load -i mine.tar
pycontainers run --rm "$REGISTRY/tutorial/mine:2" cat /version
pycontainers rmi "$REGISTRY/tutorial/mine:2"
pycontainers image prune
