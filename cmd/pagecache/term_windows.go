// This file exists for how Windows tells a console from a file or a pipe.

package main

import "golang.org/x/sys/windows"

func isConsole(fd uintptr) bool {
	var mode uint32
	return windows.GetConsoleMode(windows.Handle(fd), &mode) == nil
}
