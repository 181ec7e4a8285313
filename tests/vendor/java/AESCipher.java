// The AESCipher the SenseID manual's sample uses, written from the documented scheme (API.md "Encryption"):
// AES-256-GCM with a 128-bit tag; key = the UTF-8 bytes of the 32-character string (not hex-decoded); nonce = the
// UTF-8 bytes of the 12-character IV string; output = standard Base64 of ciphertext || tag (what Java's GCM
// cipher returns from doFinal). `java AESCipher TEXT` prints TEXT encrypted with the vendor's default key and IV.
import java.nio.charset.StandardCharsets;
import java.util.Base64;

import javax.crypto.Cipher;
import javax.crypto.spec.GCMParameterSpec;
import javax.crypto.spec.SecretKeySpec;

public class AESCipher {
    private static final int TAG_BITS = 128;

    private final SecretKeySpec key;
    private final byte[] iv;

    public AESCipher(String key, String iv) {
        if (key.length() != 32 || iv.length() != 12) {
            throw new IllegalArgumentException("the key is 32 characters and the iv 12");
        }
        this.key = new SecretKeySpec(key.getBytes(StandardCharsets.UTF_8), "AES");
        this.iv = iv.getBytes(StandardCharsets.UTF_8);
    }

    public String encrypt(byte[] plain) throws Exception {
        Cipher cipher = Cipher.getInstance("AES/GCM/NoPadding");
        cipher.init(Cipher.ENCRYPT_MODE, key, new GCMParameterSpec(TAG_BITS, iv));
        return Base64.getEncoder().encodeToString(cipher.doFinal(plain));
    }

    public byte[] decrypt(String encrypted) throws Exception {
        Cipher cipher = Cipher.getInstance("AES/GCM/NoPadding");
        cipher.init(Cipher.DECRYPT_MODE, key, new GCMParameterSpec(TAG_BITS, iv));
        return cipher.doFinal(Base64.getDecoder().decode(encrypted));
    }

    public static void main(String[] args) throws Exception {
        AESCipher cipher = new AESCipher("dcbbad6765e14139a07d34b92292a672", "df25d188a061");
        System.out.println(cipher.encrypt(args[0].getBytes(StandardCharsets.UTF_8)));
    }
}
