package debugenv

import "testing"

func TestEnabled(t *testing.T) {
	for _, k := range Vars {
		for v, want := range map[string]bool{
			"1": true, "true": true, "TRUE": true, "True": true, "t": true, "yes": true, "Y": true, "on": true, " on ": true,
			"": false, "0": false, "false": false, "no": false, "off": false, "2": false, "debug": false,
		} {
			got := Enabled(func(name string) string {
				if name == k {
					return v
				}
				return ""
			})
			if got != want {
				t.Errorf("%s=%q: Enabled = %v, want %v", k, v, got, want)
			}
		}
	}
}
