/*
 * floor.c: the smallest /init that resumes a hibernation image, the floor `make bench` measures
 * every initramfs against (issue 17). It mounts sysfs, loads the modules listed in /floor/modules
 * in order (finit_module), waits for the block device /floor/resume names (MAJ:MIN) to appear in
 * /sys/dev/block, and writes it to /sys/power/resume, which restores the image and never returns.
 * Nothing else: no checks, no config parsing beyond two files, no runtime but a static libc.
 * When the write returns, the kernel did not take the image: it says so and powers off.
 *
 * Built static by the benchmark (gcc -static -O2); never part of hibernate itself, which is Go
 * without cgo.
 */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/reboot.h>
#include <sys/syscall.h>
#include <unistd.h>

static int slurp(const char *path, char *buf, size_t n) {
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	ssize_t got = read(fd, buf, n - 1);
	close(fd);
	if (got < 0)
		return -1;
	buf[got] = 0;
	return (int)got;
}

int main(void) {
	static char mods[8192], dev[64], path[128];
	mount("sysfs", "/sys", "sysfs", 0, 0);
	if (slurp("/floor/modules", mods, sizeof mods) < 0 || slurp("/floor/resume", dev, sizeof dev) <= 0) {
		fprintf(stderr, "floor: cannot read /floor/modules or /floor/resume\n");
		reboot(RB_POWER_OFF);
	}
	for (char *m = strtok(mods, "\n"); m; m = strtok(NULL, "\n")) {
		int fd = open(m, O_RDONLY | O_CLOEXEC);
		if (fd < 0 || syscall(SYS_finit_module, fd, "", 0) != 0)
			fprintf(stderr, "floor: load %s failed\n", m);
		if (fd >= 0)
			close(fd);
	}
	dev[strcspn(dev, "\n")] = 0;
	snprintf(path, sizeof path, "/sys/dev/block/%s", dev);
	for (int i = 0; i < 30000 && access(path, F_OK) != 0; i++)
		usleep(1000);
	int fd = open("/sys/power/resume", O_WRONLY);
	if (fd >= 0)
		write(fd, dev, strlen(dev));
	fprintf(stderr, "floor: the kernel did not resume from %s\n", dev);
	reboot(RB_POWER_OFF);
	return 1;
}
