# Install rules and the Debian package (CPack's DEB generator; scripts/package.sh).
#
# Destinations are relative to the root of the target system, not to a /usr or
# /usr/local prefix: the package needs /etc, /var and /lib beside /usr. So
# `cmake --install build --prefix DIR` stages exactly the package's tree in DIR, and
# nothing is ever written to the building machine's /etc or /var.

# cpack (and the install target) would first build `all`, every test binary among them;
# scripts/package.sh builds the one target that ships instead.
set(CMAKE_SKIP_INSTALL_ALL_DEPENDENCY ON)

install(TARGETS event-gateway RUNTIME DESTINATION usr/bin)
install(FILES contrib/systemd/event-gateway.service DESTINATION lib/systemd/system)
install(FILES contrib/debian/event-gateway.default DESTINATION etc/default RENAME event-gateway)
# Empty in the package; postinst gives it to the service user, StateDirectory= keeps it so.
install(DIRECTORY DESTINATION var/lib/event-gateway)
# The README beside docs/, so that its links work.
install(FILES README.md DESTINATION usr/share/doc/event-gateway)
install(DIRECTORY docs/ DESTINATION usr/share/doc/event-gateway/docs FILES_MATCHING PATTERN "*.md")
install(FILES contrib/grafana/event-gateway.json DESTINATION usr/share/event-gateway/grafana)

set(EG_PACKAGE_MAINTAINER
    "Event Gateway maintainers <maintainers@users.noreply.r-seed-df935887.example>"
    CACHE STRING "Maintainer field of the Debian package")

set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME event-gateway)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGING_INSTALL_PREFIX /)
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "API gateway and pub/sub router for serverless functions")
# The extended description; CPack puts the summary above it.
string(CONCAT CPACK_DEBIAN_PACKAGE_DESCRIPTION
  "The Event Gateway routes events (HTTP requests, CloudEvents, custom events) to\n"
  "functions: HTTP endpoints, AWS Lambda, Kinesis, Firehose and SQS, synchronously or\n"
  "through a durable delivery queue with retries and dead letters. It keeps its\n"
  "configuration in etcd, or in an embedded store on a single node.")
set(CPACK_DEBIAN_PACKAGE_MAINTAINER "${EG_PACKAGE_MAINTAINER}")
set(CPACK_DEBIAN_PACKAGE_SECTION net)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
# Runtime dependencies are read from the binary by dpkg-shlibdeps (dpkg-dev); adduser
# is what postinst calls.
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_DEPENDS "adduser")
set(CPACK_DEBIAN_PACKAGE_SUGGESTS "etcd-server, nats-server")
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA
    ${CMAKE_SOURCE_DIR}/contrib/debian/postinst
    ${CMAKE_SOURCE_DIR}/contrib/debian/prerm
    ${CMAKE_SOURCE_DIR}/contrib/debian/postrm
    ${CMAKE_SOURCE_DIR}/contrib/debian/conffiles)
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION TRUE)
# build/ is RelWithDebInfo: the package ships the binary without its debug sections.
set(CPACK_STRIP_FILES TRUE)
set(CPACK_INSTALL_DEFAULT_DIRECTORY_PERMISSIONS
    OWNER_READ OWNER_WRITE OWNER_EXECUTE GROUP_READ GROUP_EXECUTE WORLD_READ WORLD_EXECUTE)
include(CPack)
