import CAPICore
import Crypto

/// `appsecret_proof`: lowercase hex HMAC-SHA256 of the access token keyed by the app secret, which
/// proves a call comes from a holder of the app secret even if the token leaked.
public enum AppSecretProof {
    public static func make(accessToken: String, appSecret: String) -> String {
        let mac = HMAC<SHA256>.authenticationCode(for: Array(accessToken.utf8), using: SymmetricKey(data: Array(appSecret.utf8)))
        return SHA256Hex.hex(mac)
    }
}
