/**
 * While Prescient runs commands in a guest, package scripts must not start daemons on the
 * build host: Debian's invoke-rc.d and deb-systemd-invoke ask /usr/sbin/policy-rc.d, and exit
 * status 101 means "no". Backends put it in before the first command (unless the image has its
 * own) and remove it at close; a killed build's layer is discarded, so no leftover is published.
 */
export const policyRcDPath = '/usr/sbin/policy-rc.d';
export const policyRcDScript = '#!/bin/sh\n# Written by Prescient while it changes this image; removed when it is done.\nexit 101\n';
