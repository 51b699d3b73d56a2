#include "providers/aws/credentials.h"

#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>

#include "aws_env_guard.h"

namespace eg::providers {
namespace {

namespace fs = std::filesystem;

constexpr const char* kFile = R"(# shared credentials
[default]
aws_access_key_id = AKIDDEFAULT
aws_secret_access_key = secret/default+key

; another profile
[ work ]
aws_access_key_id=AKIDWORK
aws_secret_access_key=secretwork
aws_session_token = tokenwork==

[profile config-style]
aws_access_key_id = AKIDCONFIG
aws_secret_access_key = secretconfig

[incomplete]
aws_access_key_id = AKIDONLY
)";

fs::path writeFile(const std::string& name, const std::string& text) {
  const fs::path path = fs::temp_directory_path() /
                        ("eg_aws_" + std::to_string(::getpid()) + "_" + name);
  std::ofstream(path) << text;
  return path;
}

TEST(SharedCredentialsTest, ParsesProfiles) {
  auto d = parseSharedCredentials(kFile, "default");
  ASSERT_TRUE(d);
  EXPECT_EQ(d->accessKeyId, "AKIDDEFAULT");
  EXPECT_EQ(d->secretAccessKey, "secret/default+key");
  EXPECT_EQ(d->sessionToken, "");
  auto w = parseSharedCredentials(kFile, "work");
  ASSERT_TRUE(w);
  EXPECT_EQ(w->accessKeyId, "AKIDWORK");
  EXPECT_EQ(w->secretAccessKey, "secretwork");
  EXPECT_EQ(w->sessionToken, "tokenwork==");
  auto c = parseSharedCredentials(kFile, "config-style");
  ASSERT_TRUE(c);
  EXPECT_EQ(c->accessKeyId, "AKIDCONFIG");
  EXPECT_FALSE(parseSharedCredentials(kFile, "incomplete"));
  EXPECT_FALSE(parseSharedCredentials(kFile, "missing"));
  EXPECT_FALSE(parseSharedCredentials("", "default"));
  // Windows line ends.
  auto crlf = parseSharedCredentials("[default]\r\naws_access_key_id=A1\r\naws_secret_access_key=S1\r\n",
                                     "default");
  ASSERT_TRUE(crlf);
  EXPECT_EQ(crlf->secretAccessKey, "S1");
}

TEST(CredentialChainTest, ProviderFieldsComeFirst) {
  testing::AwsEnvGuard env;
  env.set("AWS_ACCESS_KEY_ID", "AKIDENV");
  env.set("AWS_SECRET_ACCESS_KEY", "secretenv");
  auto c = AwsCredentialChain::resolve(AwsCredentials{"AKIDGIVEN", "secretgiven", "tok"});
  ASSERT_TRUE(c);
  EXPECT_EQ(c->accessKeyId, "AKIDGIVEN");
  EXPECT_EQ(c->sessionToken, "tok");
}

TEST(CredentialChainTest, EnvironmentThenSharedFile) {
  testing::AwsEnvGuard env;
  const fs::path file = writeFile("chain", kFile);
  env.set("AWS_SHARED_CREDENTIALS_FILE", file.string());

  auto fromFile = AwsCredentialChain::resolve(std::nullopt);
  ASSERT_TRUE(fromFile) << fromFile.error().message;
  EXPECT_EQ(fromFile->accessKeyId, "AKIDDEFAULT");

  env.set("AWS_PROFILE", "work");
  auto profile = AwsCredentialChain::resolve(std::nullopt);
  ASSERT_TRUE(profile) << profile.error().message;
  EXPECT_EQ(profile->accessKeyId, "AKIDWORK");
  EXPECT_EQ(profile->sessionToken, "tokenwork==");

  env.set("AWS_ACCESS_KEY_ID", "AKIDENV");
  env.set("AWS_SECRET_ACCESS_KEY", "secretenv");
  env.set("AWS_SESSION_TOKEN", "tokenenv");
  auto fromEnv = AwsCredentialChain::resolve(std::nullopt);
  ASSERT_TRUE(fromEnv);
  EXPECT_EQ(fromEnv->accessKeyId, "AKIDENV");
  EXPECT_EQ(fromEnv->secretAccessKey, "secretenv");
  EXPECT_EQ(fromEnv->sessionToken, "tokenenv");

  // A key id without its secret is not a source.
  ::unsetenv("AWS_SECRET_ACCESS_KEY");
  auto partial = AwsCredentialChain::resolve(std::nullopt);
  ASSERT_TRUE(partial);
  EXPECT_EQ(partial->accessKeyId, "AKIDWORK");
  fs::remove(file);
}

TEST(CredentialChainTest, HomeCredentialsFileIsTheDefault) {
  testing::AwsEnvGuard env;
  ::unsetenv("AWS_SHARED_CREDENTIALS_FILE");
  const fs::path home = fs::temp_directory_path() / ("eg_aws_home_" + std::to_string(::getpid()));
  fs::create_directories(home / ".aws");
  std::ofstream(home / ".aws" / "credentials") << kFile;
  const char* oldHome = std::getenv("HOME");
  const std::string savedHome = oldHome == nullptr ? "" : oldHome;
  env.set("HOME", home.string());
  auto c = AwsCredentialChain::resolve(std::nullopt);
  if (oldHome != nullptr) {
    ::setenv("HOME", savedHome.c_str(), 1);
  } else {
    ::unsetenv("HOME");
  }
  fs::remove_all(home);
  ASSERT_TRUE(c) << c.error().message;
  EXPECT_EQ(c->accessKeyId, "AKIDDEFAULT");
}

TEST(CredentialChainTest, MissingCredentialsSayWhereTheyWereLookedFor) {
  testing::AwsEnvGuard env;
  auto none = AwsCredentialChain::resolve(std::nullopt);
  ASSERT_FALSE(none);
  EXPECT_EQ(none.error().kind, ErrorKind::kUnavailable);
  EXPECT_NE(none.error().message.find("no AWS credentials"), std::string::npos);
  EXPECT_NE(none.error().message.find("AWS_ACCESS_KEY_ID"), std::string::npos);
  EXPECT_NE(none.error().message.find("/nonexistent/eg-test/credentials"), std::string::npos);

  const fs::path file = writeFile("noprofile", kFile);
  env.set("AWS_SHARED_CREDENTIALS_FILE", file.string());
  env.set("AWS_PROFILE", "incomplete");
  auto incomplete = AwsCredentialChain::resolve(std::nullopt);
  ASSERT_FALSE(incomplete);
  EXPECT_NE(incomplete.error().message.find("no profile \"incomplete\""), std::string::npos);
  EXPECT_EQ(incomplete.error().message.find("AKIDONLY"), std::string::npos);
  fs::remove(file);
}

}  // namespace
}  // namespace eg::providers
