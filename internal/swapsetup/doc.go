// Package swapsetup makes the swap that hibernation needs and the kernel parameters that find
// it again: swap areas on partitions, new partitions and swap files, activation, resume= and
// resume_offset=. Every path goes through a root prefix and every system call through the
// Swapper interface, so unit tests run on image files and fake trees.
package swapsetup
