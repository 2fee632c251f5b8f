/*
 * nodelay.c: an LD_PRELOAD shim that sets TCP_NODELAY on every socket a
 * server accepts, for servers that do not set it themselves. The benchmark
 * runner builds it with `cc -O2 -shared -fPIC -o nodelay.so nodelay.c -ldl`
 * and starts the "-nodelay" server variants with LD_PRELOAD=nodelay.so.
 *
 * setsockopt fails harmlessly on a non-TCP socket (a Unix socket), so errno
 * is saved and restored: the caller sees exactly what accept() said.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

static void set_nodelay(int fd)
{
	if (fd < 0)
		return;
	int saved = errno;
	int one = 1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	errno = saved;
}

int accept(int fd, struct sockaddr *addr, socklen_t *len)
{
	static int (*real)(int, struct sockaddr *, socklen_t *);
	if (!real)
		real = (int (*)(int, struct sockaddr *, socklen_t *))dlsym(RTLD_NEXT, "accept");
	int conn = real(fd, addr, len);
	set_nodelay(conn);
	return conn;
}

int accept4(int fd, struct sockaddr *addr, socklen_t *len, int flags)
{
	static int (*real)(int, struct sockaddr *, socklen_t *, int);
	if (!real)
		real = (int (*)(int, struct sockaddr *, socklen_t *, int))dlsym(RTLD_NEXT, "accept4");
	int conn = real(fd, addr, len, flags);
	set_nodelay(conn);
	return conn;
}
