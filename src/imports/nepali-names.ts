/** A name in Latin script, as people in Nepal commonly write it, and in Devanagari. */
export type NamePair = readonly [en: string, ne: string];

export const MALE_GIVEN_NAMES: readonly NamePair[] = [
  ['Ram', 'राम'], ['Hari', 'हरि'], ['Krishna', 'कृष्ण'], ['Shyam', 'श्याम'], ['Gopal', 'गोपाल'],
  ['Bishnu', 'विष्णु'], ['Ramesh', 'रमेश'], ['Suresh', 'सुरेश'], ['Dinesh', 'दिनेश'], ['Mahesh', 'महेश'],
  ['Rajesh', 'राजेश'], ['Prakash', 'प्रकाश'], ['Bikash', 'विकास'], ['Sanjay', 'सञ्जय'], ['Deepak', 'दीपक'],
  ['Anil', 'अनिल'], ['Sunil', 'सुनिल'], ['Binod', 'विनोद'], ['Santosh', 'सन्तोष'], ['Nabin', 'नवीन'],
  ['Sagar', 'सागर'], ['Arjun', 'अर्जुन'], ['Bibek', 'विवेक'], ['Prem', 'प्रेम'], ['Bhim', 'भीम'],
  ['Pawan', 'पवन'], ['Sujan', 'सुजन'], ['Kamal', 'कमल'], ['Narayan', 'नारायण'], ['Tek Bahadur', 'टेक बहादुर'],
  ['Dil Bahadur', 'दिल बहादुर'], ['Man Bahadur', 'मान बहादुर'],
];

export const FEMALE_GIVEN_NAMES: readonly NamePair[] = [
  ['Sita', 'सीता'], ['Gita', 'गीता'], ['Laxmi', 'लक्ष्मी'], ['Saraswati', 'सरस्वती'], ['Parbati', 'पार्वती'],
  ['Kamala', 'कमला'], ['Sarita', 'सरिता'], ['Sunita', 'सुनिता'], ['Anita', 'अनिता'], ['Rita', 'रीता'],
  ['Sabina', 'सबिना'], ['Puja', 'पूजा'], ['Manisha', 'मनिषा'], ['Asmita', 'अस्मिता'], ['Srijana', 'सृजना'],
  ['Bimala', 'विमला'], ['Radha', 'राधा'], ['Durga', 'दुर्गा'], ['Maya', 'माया'], ['Nirmala', 'निर्मला'],
  ['Pramila', 'प्रमिला'], ['Sushila', 'सुशीला'], ['Kopila', 'कोपिला'], ['Binita', 'विनिता'], ['Rojina', 'रोजिना'],
  ['Sangita', 'सङ्गीता'], ['Shanti', 'शान्ति'], ['Usha', 'उषा'], ['Yamuna', 'यमुना'], ['Kalpana', 'कल्पना'],
  ['Kiran', 'किरण'], ['Dil Maya', 'दिल माया'],
];

export const SURNAMES: readonly NamePair[] = [
  ['Thapa', 'थापा'], ['Shrestha', 'श्रेष्ठ'], ['Sharma', 'शर्मा'], ['Adhikari', 'अधिकारी'], ['Gurung', 'गुरुङ'],
  ['Tamang', 'तामाङ'], ['Rai', 'राई'], ['Limbu', 'लिम्बु'], ['Magar', 'मगर'], ['Karki', 'कार्की'],
  ['Khadka', 'खड्का'], ['Basnet', 'बस्नेत'], ['Bhandari', 'भण्डारी'], ['Poudel', 'पौडेल'], ['Pokharel', 'पोखरेल'],
  ['Koirala', 'कोइराला'], ['Acharya', 'आचार्य'], ['Bhattarai', 'भट्टराई'], ['Ghimire', 'घिमिरे'], ['Dahal', 'दाहाल'],
  ['Neupane', 'न्यौपाने'], ['Subedi', 'सुवेदी'], ['Gautam', 'गौतम'], ['Joshi', 'जोशी'], ['Pandey', 'पाण्डे'],
  ['Regmi', 'रेग्मी'], ['Aryal', 'अर्याल'], ['Khatri', 'खत्री'], ['Bista', 'बिष्ट'], ['Shahi', 'शाही'],
  ['Rana', 'राणा'], ['Maharjan', 'महर्जन'], ['Bajracharya', 'बज्राचार्य'], ['Shakya', 'शाक्य'], ['Tuladhar', 'तुलाधर'],
  ['Pradhan', 'प्रधान'], ['Yadav', 'यादव'], ['Mahato', 'महतो'], ['Chaudhary', 'चौधरी'], ['Tharu', 'थारु'],
  ['Jha', 'झा'], ['Mishra', 'मिश्र'], ['Sah', 'साह'], ['Singh', 'सिंह'], ['Gupta', 'गुप्ता'],
  ['Mandal', 'मण्डल'], ['Sherpa', 'शेर्पा'], ['Lama', 'लामा'], ['Sunuwar', 'सुनुवार'], ['Bishwakarma', 'विश्वकर्मा'],
  ['Pariyar', 'परियार'], ['Sarki', 'सार्की'], ['Nepali', 'नेपाली'], ['Dhakal', 'ढकाल'], ['Lamichhane', 'लामिछाने'],
  ['Devkota', 'देवकोटा'], ['Timilsina', 'तिमिल्सिना'], ['Oli', 'ओली'], ['Khanal', 'खनाल'], ['Sapkota', 'सापकोटा'],
  ['Bhusal', 'भुसाल'], ['Giri', 'गिरी'],
];

/** Tole (neighbourhood) names for addresses. */
export const TOLES: readonly string[] = [
  'Naya Bazar', 'Purano Bazar', 'Chowk', 'Danda Gaun', 'Khola Tir', 'Pul Chowk', 'Besi', 'Tar', 'Milan Tole', 'Shanti Tole',
  'Buddha Chowk', 'Bhanu Chowk', 'Ganesh Tole', 'Bhimsen Tole', 'Jana Jagriti Tole', 'Sahid Chowk',
];
