// Command hibernate-init is /init of the hibernate initramfs: it resumes a hibernation image
// when there is one to resume, and otherwise boots the root file system. See package resume.
package main

import "github.com/hibernate-linux/hibernate/internal/resume"

func main() {
	resume.EmergencyShell(resume.Init())
}
