package awsauth

import (
	"context"

	"github.com/aws/aws-sdk-go-v2/config"
)

// ProfileNeedsMFA reports whether an AWS profile ("" is the default one)
// would prompt for an MFA code, as read from these config and credentials
// files, so that setup can let kubectl lend ekstoken the terminal. A
// profile that cannot be read does not: setup then changes nothing about
// prompting, and the token command explains the profile's error itself.
func ProfileNeedsMFA(ctx context.Context, profile, configFile, credentialsFile string) bool {
	sc, ok := loadProfile(ctx, profile, configFile, credentialsFile)
	return ok && sc.MFASerial != ""
}

// ProfileRegion is the region an AWS profile ("" is the default one) sets
// in these files, or "".
func ProfileRegion(ctx context.Context, profile, configFile, credentialsFile string) string {
	sc, _ := loadProfile(ctx, profile, configFile, credentialsFile)
	return sc.Region
}

func loadProfile(ctx context.Context, profile, configFile, credentialsFile string) (config.SharedConfig, bool) {
	if profile == "" {
		profile = "default"
	}
	sc, err := config.LoadSharedConfigProfile(ctx, profile, func(o *config.LoadSharedConfigOptions) {
		o.ConfigFiles, o.CredentialsFiles = []string{configFile}, []string{credentialsFile}
	})
	return sc, err == nil
}
